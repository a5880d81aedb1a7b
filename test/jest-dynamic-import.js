/**
 * Jest transform for a few CommonJS files in node_modules that load Node built-ins with a dynamic `import('http')`
 * (the OpenTelemetry OTLP/HTTP transport). Jest runs modules in a vm without dynamic-import support unless Node runs
 * with --experimental-vm-modules, so there such an import fails; outside Jest it works as is. This rewrites
 * `import('<builtin>')` to `Promise.resolve().then(() => require('<builtin>'))`, which is equivalent for built-ins.
 */
const { builtinModules } = require('node:module');

const builtins = new Set(builtinModules);

module.exports = {
  process(source) {
    return {
      code: source.replace(/\bimport\((['"])([a-z_:/]+)\1\)/g, (m, q, name) =>
        builtins.has(name.replace(/^node:/, '')) ? `Promise.resolve().then(() => require(${q}${name}${q}))` : m),
    };
  },
  getCacheKey(source, path) {
    return require('node:crypto').createHash('sha256').update('dynamic-import-v1').update(path).update(source).digest('hex');
  },
};
