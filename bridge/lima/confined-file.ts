/**
 * Lima files are named by Redis: each is opened first and checked through its handle (a regular
 * file below the scan's save folder and the operator's `--lima-root` folders), then read from that
 * same handle (bridge/lima-follower.ts uploads it).
 */
import { constants } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A Lima file opened for reading and checked through its handle, or what is wrong (`wait`: it may still appear). */
export type ConfinedFile = { handle: FileHandle; realPath: string } | { problem: string; wait: boolean };

const isBelow = (path: string, folder: string): boolean => path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);

/**
 * Opens `path` for reading only if what is opened is a regular file whose real path is below `saveFolder` and, when
 * `roots` are given, below one of them (each folder with its own symbolic links resolved). A path whose folder is
 * outside is refused before anything is opened. Race-free on Linux: the file is then opened (no final symbolic link
 * followed, non-blocking so a FIFO cannot hang the open), then the handle
 * itself is checked (fstat; its real path from /proc/self/fd), and the caller reads that same handle: a symbolic link
 * swapped in for the file after the check changes nothing. The caller closes the handle.
 */
export async function openConfinedFile(path: string, saveFolder: string, roots: readonly string[] = []): Promise<ConfinedFile> {
  // Before the open, the folder is checked (its real path: no file opened yet): a path Redis names outside the allowed
  // folders is never opened, since opening a device or a FIFO has effects of its own (a watchdog armed, a tape rewound,
  // a writer released). The handle is checked again below: that check is the one a swap cannot race.
  let folder: string;
  try {
    folder = await realpath(dirname(path));
  } catch (error) {
    return { problem: openProblemOf(error), wait: true };
  }
  const outsideBefore = await outsideOf(join(folder, basename(path)), saveFolder, roots);
  if (outsideBefore) return { problem: outsideBefore, wait: false };
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      // The path itself is a symbolic link: never opened. Where it points is looked up only to say so.
      const target = await realpath(path).catch(() => undefined);
      const outside = target === undefined ? undefined : await outsideOf(target, saveFolder, roots);
      return {
        problem:
          outside ??
          `is a symbolic link${target ? ` to ${target}` : ''}: not read (Lima files are opened without following a symbolic link)`,
        wait: false,
      };
    }
    return { problem: openProblemOf(error), wait: true };
  }
  try {
    const info = await handle.stat();
    // A FIFO or device would block the upload for ever (Lima2 receiver files come from a folder listing).
    if (!info.isFile()) return closeWith(handle, { problem: 'is not a regular file: not read', wait: false });
    const realPath = await openedPath(handle, path, info);
    if (realPath === undefined) return closeWith(handle, { problem: 'changed while it was opened: not read', wait: true });
    const outside = await outsideOf(realPath, saveFolder, roots);
    if (outside) return closeWith(handle, { problem: outside, wait: false });
    return { handle, realPath };
  } catch (error) {
    return closeWith(handle, { problem: `cannot be read (${(error as Error).message})`, wait: true });
  }
}

/** What a failed open (or real path) of a Lima file says, in the words of the run's errors. */
function openProblemOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'does not exist'
    : code === 'EACCES'
      ? 'is not readable by the bridge'
      : `cannot be read (${(error as Error).message})`;
}

async function closeWith(handle: FileHandle, result: ConfinedFile): Promise<ConfinedFile> {
  await handle.close().catch(() => undefined);
  return result;
}

/**
 * The real path of the file an open handle reads: /proc/self/fd on Linux (the kernel's own answer); elsewhere the path's
 * real path, accepted only if it is still the same file (device and inode) as the handle, else undefined.
 */
async function openedPath(handle: FileHandle, path: string, info: { dev: number; ino: number }): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    const real = await realpath(path);
    const now = await stat(real);
    return now.dev === info.dev && now.ino === info.ino ? real : undefined;
  }
}

/** Why `real` (a real path) may not be read: outside the scan's save folder or outside every Lima root; undefined when it may. */
async function outsideOf(real: string, saveFolder: string, roots: readonly string[]): Promise<string | undefined> {
  const folder = await realpath(saveFolder).catch(() => undefined);
  if (folder === undefined || !isBelow(real, folder)) return `resolves to ${real}, outside the scan's save folder ${saveFolder}: not read`;
  if (roots.length === 0) return undefined;
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)));
  if (realRoots.some((r) => r !== undefined && isBelow(real, r))) return undefined;
  return `resolves to ${real}, outside the Lima roots ${roots.join(', ')} (--lima-root): not read`;
}

/** The HDF5 format signature (the superblock's first 8 bytes). */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Why an open file is not an HDF5 file; undefined when it is. The superblock starts at byte 0, or
 * after a user block at 512, 1024, 2048 … bytes (HDF5 format specification): those offsets are read
 * up to 1 MiB. Lima files are HDF5: anything else named by Redis (a text file, a key, a device dump)
 * is not uploaded as a Lima file.
 */
export async function hdf5SignatureProblem(handle: FileHandle): Promise<string | undefined> {
  const { size } = await handle.stat();
  const probe = Buffer.alloc(HDF5_SIGNATURE.length);
  for (let offset = 0; offset + probe.length <= size && offset <= 1024 * 1024; offset = offset === 0 ? 512 : offset * 2) {
    const { bytesRead } = await handle.read(probe, 0, probe.length, offset);
    if (bytesRead === probe.length && probe.equals(HDF5_SIGNATURE)) return undefined;
  }
  return `is not an HDF5 file (no HDF5 signature at byte 0, 512, 1024 … of its ${size} bytes): not uploaded`;
}
