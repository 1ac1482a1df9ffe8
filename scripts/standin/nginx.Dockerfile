# Stand-in for the official nginx image (Debian's nginx 1.22), built by scripts/compose-check.sh.
# It keeps the parts of that image's contract the stack relies on: /docker-entrypoint.sh running
# the scripts in /docker-entrypoint.d/, template rendering from /etc/nginx/templates with envsubst
# (NGINX_ENVSUBST_* variables), an `nginx` user (its uid is not 101 here: Debian took that one), /etc/nginx/conf.d, /var/cache/nginx, logs on
# stdout/stderr, `nginx -g 'daemon off;'` as the command, SIGQUIT to stop, curl.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN groupadd --system nginx \
    && useradd --system --gid nginx --home-dir /nonexistent --shell /usr/sbin/nologin nginx \
    && rm -f /etc/nginx/sites-enabled/default \
    && mkdir -p /docker-entrypoint.d /etc/nginx/conf.d /etc/nginx/templates /var/cache/nginx /usr/share/nginx/html \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx-entrypoint.sh /docker-entrypoint.sh
COPY 20-envsubst-on-templates.sh /docker-entrypoint.d/20-envsubst-on-templates.sh
RUN chmod 755 /docker-entrypoint.sh /docker-entrypoint.d/20-envsubst-on-templates.sh
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
