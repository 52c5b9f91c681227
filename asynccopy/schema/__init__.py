"""`asynccopy schema`'s core: the source table's definition in, a destination table out.

    DescribeTable + DescribeTimeToLive (source, read-only) -> TableDefinition   (definition.py)
    TableDefinition -> CreateTable input JSON, or an AWS::DynamoDB::Table template (definition.py)
    TableDefinition -> CreateTable, wait until ACTIVE, UpdateTimeToLive (destination) (create.py)

Only what CreateTable accepts travels: statuses, counts, sizes, ARNs, dates and an on-demand
table's zero ProvisionedThroughput are left out.
"""
