# fanout in a container: the official Deno image, pinned. Not built in CI (no
# image registry is reachable there); tests/compose_test.ts checks this file
# and compose.yaml against the CLI instead.
#   docker build -t fanout .
#   docker run --rm -p 8765:8765 fanout server --host 0.0.0.0
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
COPY sdk ./sdk
COPY server ./server
COPY client ./client
COPY demo ./demo
COPY examples ./examples
COPY config ./config
# Fetch and cache every dependency at build time: the container needs no
# registry at run time.
RUN deno cache main.ts

USER deno
EXPOSE 8765
# -P=fanout: the permission set deno.json names (net, read, a few env vars).
ENTRYPOINT ["deno", "run", "-q", "-P=fanout", "main.ts"]
CMD ["server", "--host", "0.0.0.0"]
