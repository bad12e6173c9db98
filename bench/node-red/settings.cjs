// Node-RED 4 settings for bench/node-red-peer.ts (CommonJS: Node-RED require()s it, and this
// package is ESM). Runs flows.json headless on loopback and never reaches for the network: no
// editor or admin API, no telemetry or update check, no diagnostics, no module installs. The flow's
// broker comes from BENCH_MQTT_HOST / BENCH_MQTT_PORT; the port from `--port`.
module.exports = {
  uiHost: '127.0.0.1',
  httpAdminRoot: false,
  httpNodeRoot: '/',
  disableEditor: true,
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  telemetry: { enabled: false, updateNotification: false },
  externalModules: {
    autoInstall: false,
    palette: { allowInstall: false, allowUpdate: false, allowUpload: false },
    modules: { allowInstall: false },
  },
  functionExternalModules: false,
  editorTheme: { tours: false },
  // The flow holds no credentials; this keeps Node-RED from generating a key and warning about it.
  credentialSecret: false,
  exportGlobalContextKeys: false,
  logging: { console: { level: 'warn', metrics: false, audit: false } },
};
