import { StatusError } from '@larder/errors';
import { isNoSpace, isShortfall, volumeSpace, type SpaceShortfall } from './space.js';
import type { Volume } from './volume.js';

/** Attempts of a write that finds the volume full (each after asking for room), within the deadline. */
const WRITE_ATTEMPTS = 60;

/** What a write may use, read per write so reloads apply: `volume.reserve`, `capacity`, and how long it may wait for room. */
export interface ChunkWriterSettings {
  reserve: number;
  capacity: number;
  timeoutMs: number;
}

/** What eviction is asked for: room for `roomBytes` (the writes waiting and those in flight), and always for the largest of them. */
export interface RoomRequest {
  roomBytes: number;
  largestBytes: number;
}

export interface ChunkWriterDeps {
  volume: Volume;
  settings: () => ChunkWriterSettings;
  /**
   * Ask the cache-index to evict (over NATS, `indexEvict`); resolves when it answered. It should not reject (a
   * failure is the caller's to log): the writer tries again either way.
   */
  requestRoom: (req: RoomRequest) => Promise<void>;
}

/**
 * Writes verified chunk bodies to the volume with room made first: what the chunk-fetchers do with a body from S3 and
 * the gateway with one a client PUT. One per process and volume is enough; writers share the volume's
 * {@link volumeSpace}.
 */
export class ChunkWriter {
  /** The eviction request under way, the next one (shared by the writes that wait meanwhile) and what they want. */
  private roomRequest: Promise<void> | undefined;
  private nextRoomRequest: Promise<void> | undefined;
  private roomWanted = { bytes: 0, largest: 0 };

  constructor(private readonly deps: ChunkWriterDeps) {}

  /**
   * Write the body atomically (temp file, fdatasync, rename), with room reserved first: its bytes against the
   * filesystem's free space less `reserve` and the other writes in flight in this process. Without room, or on ENOSPC
   * from the write itself, ask for eviction and try again until `timeoutMs`; then fail with a StatusError naming the
   * volume: 507 for a chunk that can never fit, else 503. A failed write leaves no temp file.
   */
  async write(store: string, digest: string, bytes: Uint8Array): Promise<void> {
    const { volume, settings } = this.deps;
    const space = volumeSpace(volume);
    const size = bytes.byteLength;
    const deadline = Date.now() + settings().timeoutMs;
    let short: SpaceShortfall | undefined;
    let noSpace: unknown;
    for (let attempt = 1; ; attempt++) {
      const cfg = settings();
      const room = await space.reserve(size, cfg.reserve, attempt > 1);
      if (isShortfall(room)) {
        short = room;
        if (room.never || size > cfg.capacity) {
          throw new StatusError(507, `volume full: chunk ${digest} of ${store} (${size} bytes) can never fit on ${volume.dir}: ${spaceText(room, cfg.capacity)}`);
        }
      } else {
        short = undefined;
        try {
          await volume.writeChunk(store, digest, bytes);
          room.release(true);
          return;
        } catch (err) {
          room.release(false);
          if (!isNoSpace(err)) throw err;
          noSpace = err;
        }
      }
      if (attempt >= WRITE_ATTEMPTS || Date.now() >= deadline) {
        const why = short ? spaceText(short, cfg.capacity) : `the filesystem answered ${(noSpace as Error)?.message}`;
        throw new StatusError(503, `volume full: no room for chunk ${digest} of ${store} (${size} bytes) on ${volume.dir} after ${attempt} attempts to make room: ${why}`, {
          cause: noSpace,
        });
      }
      // Eviction now, for this write and the others waiting, then a pause growing with the attempts.
      await this.makeRoom(size);
      if (attempt > 1) await sleep(Math.min(25 * 2 ** (attempt - 2), 250, Math.max(0, deadline - Date.now())));
    }
  }

  /**
   * Ask for eviction so that a write of `bytes` fits. One request at a time: the writes that wait meanwhile share the
   * next one, which asks for all of them and for the writes in flight in this process.
   */
  private makeRoom(bytes: number): Promise<void> {
    this.roomWanted.bytes += bytes;
    this.roomWanted.largest = Math.max(this.roomWanted.largest, bytes);
    this.nextRoomRequest ??= (this.roomRequest ?? Promise.resolve()).then(() => {
      const wanted = this.roomWanted;
      this.roomWanted = { bytes: 0, largest: 0 };
      this.nextRoomRequest = undefined;
      const p = this.deps
        .requestRoom({ roomBytes: wanted.bytes + volumeSpace(this.deps.volume).reservedBytes, largestBytes: wanted.largest })
        .catch(() => {})
        .finally(() => {
          if (this.roomRequest === p) this.roomRequest = undefined;
        });
      this.roomRequest = p;
      return p;
    });
    return this.nextRoomRequest;
  }
}

/** The numbers behind a full volume, for an error message. */
function spaceText(s: SpaceShortfall, capacity: number): string {
  return `${s.availableBytes} bytes free above the reserve of ${s.reserveBytes} (filesystem ${s.totalBytes} bytes, ${s.freeBytes} free, capacity ${capacity}), ${s.neededBytes} needed with the writes in flight`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
