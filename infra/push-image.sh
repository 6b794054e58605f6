#!/usr/bin/env bash
# Build the code location's image and push it to the deployed stack's ECR repository.
#   infra/push-image.sh TAG          needs Docker, the AWS CLI and credentials for the account
# Tags are immutable: a tag already pushed is left as it is. STACK_NAME defaults to Supplyloop.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:?usage: infra/push-image.sh TAG}"
stack="${STACK_NAME:-Supplyloop}"
repo=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='ImageRepository'].OutputValue" --output text)
if [[ -z "$repo" || "$repo" == "None" ]]; then
  echo "image: stack $stack has no ImageRepository output; run \`make deploy\` first" >&2
  exit 1
fi
if aws ecr describe-images --repository-name "${repo#*/}" --image-ids imageTag="$tag" >/dev/null 2>&1; then
  echo "image: $repo:$tag is already pushed" >&2
  exit 0
fi
aws ecr get-login-password | docker login --username AWS --password-stdin "${repo%%/*}"
docker build --platform linux/amd64 --build-arg "CODE_VERSION=$tag" -f infra/Dockerfile -t "$repo:$tag" .
docker push "$repo:$tag"
echo "image: pushed $repo:$tag; runs use it from their next start" >&2
