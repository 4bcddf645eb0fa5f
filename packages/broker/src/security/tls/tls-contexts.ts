/**
 * `TlsContexts`: the broker's TLS material, kept current. The files are re-read every
 * `pollMs` (default 5 s); when their bytes change and the new material checks out
 * (tls-material.ts) it replaces the old one for every NEW connection: the listeners call
 * `setSecureContext(serverOptions())` from `onReload`, the dialers build new channels from
 * `clientContext()` (connections already open keep their session). A change that does not load
 * (a half-written rotation, a key that is not the certificate's) is logged once and the previous
 * material stays in use, so a rotation never takes a running broker down.
 *
 * Polling rather than fs.watch: a Kubernetes Secret is swapped by renaming a symlinked directory,
 * which watchers of the file miss; three small reads every few seconds cost nothing.
 */
import type { SecureContext, SecureContextOptions } from 'node:tls';
import { assert } from '@streambus/raft';
import type { PeerLogger } from '../../peer/logger.js';
import { silentPeerLogger } from '../../peer/logger.js';
import { tlsReloadPollMsDefault, tlsReloadPollMsMin } from './constants.js';
import type { TlsFiles, TlsMaterial } from './tls-material.js';
import { TlsMaterialError, buildTlsMaterial, digestOf, loadTlsMaterial, readTlsFiles } from './tls-material.js';

export interface TlsContextsOptions {
  readonly files: TlsFiles;
  readonly logger?: PeerLogger;
  /** How often the files are re-read; default `tlsReloadPollMsDefault`, at least `tlsReloadPollMsMin`. */
  readonly pollMs?: number;
  /** The clock certificate validity is checked against; default Date.now. */
  readonly nowMs?: () => number;
}

/** What a TLS listener needs of the material: the current options, and a word when they change. */
export interface TlsServerSource {
  serverOptions(): SecureContextOptions;
  /** Calls `listener` after each swap; returns the unsubscribe. */
  onReload(listener: () => void): () => void;
}

/** What a dialer needs: the current client context and its generation (which changes on each swap). */
export interface TlsClientSource {
  clientContext(): SecureContext;
  readonly generation: number;
}

export class TlsContexts implements TlsServerSource, TlsClientSource {
  private current: TlsMaterial;
  private swaps = 0;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The last failed change, logged once: the bytes' digest, or the read error's text. */
  private lastFailure = '';
  private readonly logger: PeerLogger;
  private readonly nowMs: () => number;
  private readonly pollMs: number;

  private constructor(
    private readonly files: TlsFiles,
    material: TlsMaterial,
    options: TlsContextsOptions,
  ) {
    this.current = material;
    this.logger = options.logger ?? silentPeerLogger;
    this.nowMs = options.nowMs ?? Date.now;
    this.pollMs = options.pollMs ?? tlsReloadPollMsDefault;
    assert(this.pollMs >= tlsReloadPollMsMin, 'the TLS reload poll is not faster than its floor');
  }

  /** Loads the material (throws TlsMaterialError when a file is wrong) and starts polling. */
  static async load(options: TlsContextsOptions): Promise<TlsContexts> {
    const nowMs = options.nowMs ?? Date.now;
    const material = await loadTlsMaterial(options.files, nowMs());
    const contexts = new TlsContexts(options.files, material, options);
    contexts.logger.info(describe(material), 'TLS certificate loaded');
    contexts.schedule();
    return contexts;
  }

  /** The material in use now. */
  get material(): TlsMaterial {
    return this.current;
  }

  /** Swaps so far (0 for the material loaded at start). */
  get generation(): number {
    return this.swaps;
  }

  serverOptions(): SecureContextOptions {
    return this.current.serverOptions;
  }

  clientContext(): SecureContext {
    return this.current.clientContext;
  }

  onReload(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Re-reads the files once; swaps when they changed and load. True when swapped. The poll calls
   * it; tests call it to skip the wait.
   */
  async reload(): Promise<boolean> {
    let contents;
    try {
      contents = await readTlsFiles(this.files);
    } catch (error) {
      if (!(error instanceof TlsMaterialError)) throw error;
      this.refused(error.message, error);
      return false;
    }
    const digest = digestOf(contents);
    if (this.closed || digest === this.current.digest) return false;
    let material: TlsMaterial;
    try {
      material = buildTlsMaterial(this.files, contents, this.nowMs());
    } catch (error) {
      if (!(error instanceof TlsMaterialError)) throw error;
      this.refused(digest, error);
      return false;
    }
    this.current = material;
    this.swaps++;
    this.lastFailure = '';
    this.logger.info({ ...describe(material), generation: this.swaps }, 'TLS certificate reloaded');
    for (const listener of [...this.listeners]) listener();
    return true;
  }

  /** Stops polling; the material stays readable. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private refused(failure: string, error: TlsMaterialError): void {
    if (failure === this.lastFailure) return;
    this.lastFailure = failure;
    this.logger.warn(
      { file: `security.tls_${error.role}`, path: error.path, reason: error.reason },
      'TLS files changed but do not load: the previous certificate stays in use',
    );
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload().then(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }
}

function describe(material: TlsMaterial): Record<string, unknown> {
  return {
    subject: material.certificate.subject.replace(/\n/g, ', '),
    serial: material.certificate.serialNumber,
    valid_to: material.certificate.validTo,
    san: material.certificate.subjectAltName ?? '',
  };
}
