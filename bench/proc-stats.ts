// CPU time, scheduler wait and memory of a process, read from /proc.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The unit of /proc/<pid>/stat's CPU times. */
export const CLK_TCK =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface Cpu {
  userUs: number;
  sysUs: number;
}

export function readCpu(pid: number): Cpu {
  return cpuOf(`/proc/${pid}/stat`);
}

/** CPU of a process's main thread alone: a Node server's event loop. */
export function readLoopCpu(pid: number): Cpu {
  return cpuOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuOf(path: string): Cpu {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1e6 / CLK_TCK;
  return { userUs: Number(f[11]) * tick, sysUs: Number(f[12]) * tick };
}

export function cpuDelta(a: Cpu, b: Cpu): Cpu & { totalUs: number } {
  const userUs = b.userUs - a.userUs;
  const sysUs = b.sysUs - a.sysUs;
  return { userUs, sysUs, totalUs: userUs + sysUs };
}

/** Nanoseconds the main thread ran, and waited runnable for a CPU (other processes' turn). */
export function readSched(pid: number): { runNs: number; waitNs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ');
  return { runNs: Number(run), waitNs: Number(wait) };
}

export function readRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU of every PostgreSQL and Redis process on the machine (whoever else uses them too). */
export function readServicesCpu(comms = ['postgres', 'redis-server']): Map<number, Cpu> {
  const out = new Map<number, Cpu>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      if (comms.includes(comm)) out.set(Number(name), readCpu(Number(name)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU microseconds used between the two readings by the processes present in both. */
export function servicesCpuUs(a: Map<number, Cpu>, b: Map<number, Cpu>): number {
  let us = 0;
  for (const [pid, end] of b) {
    const start = a.get(pid);
    if (start) us += cpuDelta(start, end).totalUs;
  }
  return us;
}
