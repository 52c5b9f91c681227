"""Deploying the consumer: the function's zip (package.py); the stack is deploy/template.yaml."""
