export { startSimulator } from './server.js';
export type { ReceivedRequest, SimulatorHandle, SimulatorOptions } from './types.js';
