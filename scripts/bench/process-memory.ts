/**
 * The resident memory of a browser's page processes, read from /proc (Linux), for the Worker
 * engine's memory figure: the page and its dedicated Workers live in one renderer (Chromium) or
 * content (Firefox) process, whose RSS a page cannot read about itself.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** What marks an engine's page processes on the command line. */
export const PAGE_PROCESS: Record<string, (cmdline: string) => boolean> = {
  chromium: (cmdline) => cmdline.includes('--type=renderer'),
  firefox: (cmdline) => cmdline.includes('-contentproc'),
};

function pagePids(match: (cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (match(readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '))) pids.push(Number(name));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

function rssBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (line) total += Number(line[1]) * 1024;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** Samples the summed RSS every `everyMs` between `start()` and `stop()`; `stop()` gives the growth over the RSS at `start()`. */
export function pageMemorySampler(match: (cmdline: string) => boolean, everyMs = 20) {
  let pids: number[] = [];
  let baseline = 0;
  let peak = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let ticks = 0;
  return {
    start() {
      pids = pagePids(match);
      baseline = peak = rssBytes(pids);
      timer = setInterval(() => {
        // New page processes (a crash and restart) are picked up every second or so.
        if (++ticks % 50 === 0) pids = pagePids(match);
        peak = Math.max(peak, rssBytes(pids));
      }, everyMs);
    },
    stop(): { baselineBytes: number; peakGrowthBytes: number } | undefined {
      if (!timer) return undefined;
      clearInterval(timer);
      timer = undefined;
      peak = Math.max(peak, rssBytes(pids));
      return { baselineBytes: baseline, peakGrowthBytes: peak - baseline };
    },
  };
}
