#!/usr/bin/env bash
# The Dagster UI of the deployed stack on http://127.0.0.1:3000, for as long as this runs.
#   infra/ui.sh        needs the AWS CLI v2 with the Session Manager plugin, and credentials
#                      allowed ecs:RunTask, ecs:ExecuteCommand and ssm:StartSession
# A one-off Fargate task of the wake definition runs the web server and a daemon (so runs
# launched from the UI start); it is reached through ECS Exec port forwarding, so no port is
# open to the internet. The task stops when this script ends. STACK_NAME, PORT: optional.
set -euo pipefail

stack="${STACK_NAME:-Supplyloop}"
port="${PORT:-3000}"
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
cluster=$(output Cluster)
family=$(output WakeTaskDefinitionFamily)
subnets=$(output TaskSubnets)
group=$(output TaskSecurityGroup)

serve="dagster-webserver -h 0.0.0.0 -p 3000 -w workspace.yaml & WAKE_QUIET_SECONDS=86400 python -m infra.wake ui; wait"
overrides=$(python3 -c 'import json, sys; print(json.dumps({"containerOverrides": [{"name": "code", "command": ["sh", "-c", sys.argv[1]]}]}))' "$serve")
task=$(aws ecs run-task --cluster "$cluster" --task-definition "$family" --launch-type FARGATE \
  --enable-execute-command --overrides "$overrides" \
  --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$group],assignPublicIp=ENABLED}" \
  --query 'tasks[0].taskArn' --output text)
trap 'aws ecs stop-task --cluster "$cluster" --task "$task" --reason "UI closed" >/dev/null && echo "ui: task stopped" >&2' EXIT

echo "ui: starting ${task##*/} ..." >&2
aws ecs wait tasks-running --cluster "$cluster" --tasks "$task"
runtime=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
  --query 'tasks[0].containers[0].runtimeId' --output text)
echo "ui: http://127.0.0.1:$port in about a minute (Ctrl-C closes it and stops the task)" >&2
aws ssm start-session --target "ecs:${cluster}_${task##*/}_${runtime}" \
  --document-name AWS-StartPortForwardingSession \
  --parameters "{\"portNumber\":[\"3000\"],\"localPortNumber\":[\"$port\"]}"
