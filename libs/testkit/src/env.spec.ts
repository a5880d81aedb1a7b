/** overrideEnv: sets and removes variables, and puts back exactly what was there (unset ones removed again). */
import { overrideEnv } from './env';

test('overrideEnv sets, removes and restores', () => {
  process.env.AGENTSIGHT_ENV_SPEC_A = 'was';
  delete process.env.AGENTSIGHT_ENV_SPEC_B;
  const restore = overrideEnv({ AGENTSIGHT_ENV_SPEC_A: undefined, AGENTSIGHT_ENV_SPEC_B: '3' });
  expect('AGENTSIGHT_ENV_SPEC_A' in process.env).toBe(false);
  expect(process.env.AGENTSIGHT_ENV_SPEC_B).toBe('3');
  restore();
  expect(process.env.AGENTSIGHT_ENV_SPEC_A).toBe('was');
  expect('AGENTSIGHT_ENV_SPEC_B' in process.env).toBe(false);
  delete process.env.AGENTSIGHT_ENV_SPEC_A;
});
