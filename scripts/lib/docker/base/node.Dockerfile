# Local stand-in for node:24-bookworm-slim (the major of the Node that builds it), built where no
# image registry is reachable: the Debian minbase root (debootstrap), the host's Node binary and
# npm, the host's CA bundle, and the unprivileged `node` user (uid 1000) that the official image
# has and our Dockerfiles use.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
# apt's ca-certificates rewrites /etc/ssl/certs when a later layer installs it, so the host's
# bundle lives in a file of its own, named by NODE_EXTRA_CA_CERTS.
COPY host-ca.crt /usr/local/share/wa-local/host-ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/wa-local/host-ca.crt
CMD ["node"]
