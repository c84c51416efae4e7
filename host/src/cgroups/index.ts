// Pod cgroups on v1, v2 and hybrid hosts behind one interface (see manager.ts).
export type { CgroupManager, PodCgroup, PodLimits } from './types.js';
export { cgroupManager, managerFor, planDrivers } from './manager.js';
export type { ManagerOptions } from './manager.js';
export { cgroupDir, detectLayout, parseMountinfo, parseProcCgroup, validCgroupPath, validPodId } from './detect.js';
export type { CgroupLayout, Hierarchy, MountEntry } from './detect.js';
export { ALLOWED_DEVICES } from './v1.js';
export { cpuWeight } from './v2.js';
export { cpuShares } from './types.js';
