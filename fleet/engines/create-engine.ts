import type { EngineName } from '../config.js';
import type { HubAddress } from '../hub/hub-address.js';
import type { Engine, EngineOptions } from './engine.js';
import { LightEngine } from './light-engine.js';
import { SdkEngine } from './sdk-engine.js';

export function createEngine(name: EngineName, hub: HubAddress, options: EngineOptions): Engine {
  return name === 'sdk' ? new SdkEngine(hub, options) : new LightEngine(hub, options);
}
