"""``featurekit deploy``: ship one commit to an AWS environment (MWAA DAGs and packages, EMR Serverless streaming
jobs, the ECS feature server), idempotently. One module per target; :mod:`.run` puts them in order."""
