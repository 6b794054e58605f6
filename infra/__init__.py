"""The AWS deployment: the stack as code (AWS CDK), its settings, and the step that turns an
AWS trigger (a schedule, a file landing) into Dagster runs."""
