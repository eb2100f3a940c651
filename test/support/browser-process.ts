import { readFileSync } from 'node:fs';
import { pidsUsingProfile } from '../../libs/session/src/drivers/wwebjs/browser/process-tree';

/**
 * The browser process running on a Chromium profile: the one of its processes that is not a
 * renderer, zygote, GPU or utility process (those carry `--type=`). Null when none runs.
 */
export function browserPidOnProfile(profileDir: string): number | null {
  for (const pid of pidsUsingProfile(profileDir)) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (!args.some((a) => a.startsWith('--type='))) return pid;
  }
  return null;
}
