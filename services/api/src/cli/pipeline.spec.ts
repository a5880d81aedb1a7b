/** Which stage services the CLI starts: the exporter only when an export is configured (`exportConfigured`). */
import { stagesFor } from './pipeline';

const LOGSTORE = {
  AGENTSIGHT_SLS_ENDPOINT: 'cn-hangzhou.log.aliyuncs.com', AGENTSIGHT_SLS_PROJECT: 'proj', AGENTSIGHT_SLS_LOGSTORE: 'agentsight',
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI-logstore-id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'logstore-secret-never-logged',
};

test('an SLS logstore or a Logtail file alone starts the exporter after api; nothing configured starts none', () => {
  for (const env of [LOGSTORE, { AGENTSIGHT_SLS_LOGTAIL_FILE: '/tmp/x.log' }]) {
    expect(stagesFor(env)).toEqual(['api', 'exporter', 'genai', 'analyzer', 'aggregator', 'parser']);
  }
  expect(stagesFor({})).toEqual(['api', 'genai', 'analyzer', 'aggregator', 'parser']);
});
