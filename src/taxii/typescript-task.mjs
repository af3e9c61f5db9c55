// The piscina task module of a pool whose task is written in TypeScript (tests, benches,
// `npm run cairn`). Node 20 does not apply the main thread's tsx loader to worker threads.
// So this plain module registers it, then loads the task named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { default: task } = await import(workerData.taskModule);
export default task;
