#!/bin/sh
# The nginx image's template contract: every $NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX
# (default /etc/nginx/templates, .template) is rendered into $NGINX_ENVSUBST_OUTPUT_DIR (default
# /etc/nginx/conf.d) with envsubst, substituting only variables defined in the environment (and
# matching NGINX_ENVSUBST_FILTER when set), so nginx's own $variables are left alone.
set -eu
template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}
[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
  echo "$0: $template_dir exists but $output_dir is not writable" >&2
  exit 0
fi
names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | grep -E -- "${filter:-.}" || true)
defined=""
for name in $names; do defined="$defined \${$name}"; done
find "$template_dir" -follow -type f -name "*$suffix" | while read -r template; do
  relative=${template#"$template_dir/"}
  output="$output_dir/${relative%"$suffix"}"
  mkdir -p "$(dirname "$output")"
  echo "$0: rendering $template to $output"
  envsubst "$defined" <"$template" >"$output"
done
