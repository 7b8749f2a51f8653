# iothub-emulator in a container: docker compose up, then point the SDKs at localhost.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
ENV IOTHUB_EMULATOR_HOST=0.0.0.0 \
    IOTHUB_EMULATOR_HOSTNAME=localhost \
    IOTHUB_EMULATOR_DATA_DIR=/data \
    IOTHUB_EMULATOR_LOG_FORMAT=json
VOLUME /data
EXPOSE 443 8883
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD node -e "require('https').get({host:'127.0.0.1',port:443,path:'/health',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start"]
