from asynccopy.cli import main

main()
