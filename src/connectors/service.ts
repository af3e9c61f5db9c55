/**
 * Managing connectors, for the JSON API and the CLI: create, list, show, change, remove,
 * ask for a run, and read the health. Platform admins manage every connector; org admins
 * manage their organisation's, and only towards collections they may write. Other users
 * may read their organisation's connectors.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CairnError } from '../errors.ts';
import { collectionRights, loadCollectionContext } from '../sharing/access.ts';
import { forbidden, Guard, invalid, notFound, type Acting } from '../sharing/guard.ts';
import type { Actor } from '../sharing/service.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type DocumentRecord, type Store } from '../store/store.ts';
import {
  CONNECTOR_DOCUMENT,
  CONNECTOR_STATE_DOCUMENT,
  ConnectorChange,
  NewConnector,
  type Connector,
  type PublicConnector,
} from './definition.ts';
import { describeUrl, targetProblem } from './http.ts';
import { publicConnector, sealSecrets, withPlaceholderSecrets, type SecretBox } from './secrets.ts';
import { loadState, type ConnectorState } from './state.ts';

/** A connector with its run state, without secret values. */
export interface ConnectorView {
  connector: PublicConnector;
  state: ConnectorState;
  /** When the next run is due (microseconds); absent for a disabled connector. */
  nextRunAt?: number;
  /** Whether a run holds the connector now. */
  running: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Documents read per listing query. */
const LIST_PAGE = 500;

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid connector';
  const path = issue.path.join('.');
  return path ? `connector field "${path}" is invalid: ${issue.message}` : issue.message;
}

/** Parses a new connector definition, throwing a 400 that names the field. */
export function parseNewConnector(input: unknown): z.output<typeof NewConnector> {
  const parsed = NewConnector.safeParse(input);
  if (!parsed.success) throw invalid(describeIssue(parsed.error));
  return parsed.data;
}

function parseChange(input: unknown): z.output<typeof ConnectorChange> {
  const parsed = ConnectorChange.safeParse(input);
  if (!parsed.success) throw invalid(describeIssue(parsed.error));
  return parsed.data;
}

function nameKey(organisationId: string, name: string): string {
  return `${organisationId}:${name.toLowerCase()}`;
}

/** The stored definition of a connector document; its secrets may be sealed (see secrets.ts). */
export function connectorOf(document: DocumentRecord): Connector {
  return JSON.parse(document.body) as Connector;
}

export interface ConnectorSettings {
  /** `connectors.allowPrivateTargets`: anyone's connectors may fetch from non-public addresses. */
  allowPrivateTargets?: boolean;
}

export class ConnectorService {
  private readonly guard: Guard;

  /** `secrets` encrypts the secrets of the definitions it writes; see secrets.ts. */
  constructor(
    readonly store: Store,
    private readonly secrets?: SecretBox,
    private readonly settings: ConnectorSettings = {},
  ) {
    this.guard = new Guard(store);
  }

  async create(actor: Actor, input: unknown): Promise<ConnectorView> {
    const acting = await this.guard.resolve(actor, 'write');
    const definition = parseNewConnector(input);
    const organisationId = acting.user.organisationId;
    if (!this.guard.administers(acting, organisationId)) {
      throw forbidden('only platform admins and org admins may create connectors');
    }
    this.checkLocation(acting, definition.url);
    await this.checkTarget(acting, definition.collection);
    const connector: Connector = {
      ...definition,
      id: randomUUID(),
      organisationId,
      createdBy: acting.user.id,
      createdAt: nowMicros(),
      urlSetBy: acting.user.id,
    };
    const stored = await this.write(connector, 0, connector.enabled ? nowMicros() : undefined);
    await this.guard.audit(acting, 'connector.create', connector.id, {
      name: connector.name,
      kind: connector.kind,
      collection: connector.collection,
    });
    return this.view(connectorOf(stored), stored);
  }

  async list(actor: Actor): Promise<ConnectorView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const owner = this.guard.isPlatformAdmin(acting) ? undefined : acting.user.organisationId;
    const views: ConnectorView[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listDocuments({
        kind: CONNECTOR_DOCUMENT,
        limit: LIST_PAGE,
        ...(owner !== undefined ? { owner } : {}),
        ...(afterId !== undefined ? { afterId } : {}),
      });
      for (const document of page) views.push(await this.view(connectorOf(document), document));
      if (page.length < LIST_PAGE) break;
      afterId = page[page.length - 1]!.id;
    }
    return views.sort((a, b) => a.connector.name.localeCompare(b.connector.name));
  }

  /** Finds a connector by id, or by name within the acting user's organisation. */
  async show(actor: Actor, reference: string): Promise<ConnectorView> {
    const acting = await this.guard.resolve(actor, 'read');
    const document = await this.find(acting, reference);
    return this.view(connectorOf(document), document);
  }

  async update(actor: Actor, reference: string, input: unknown): Promise<ConnectorView> {
    const acting = await this.guard.resolve(actor, 'write');
    const change = parseChange(input);
    for (let attempt = 0; ; attempt++) {
      const document = await this.find(acting, reference);
      const current = connectorOf(document);
      this.requireManager(acting, current);
      if (change.url !== undefined && change.url !== current.url) {
        this.checkLocation(acting, change.url);
      }
      if (change.collection !== undefined && change.collection !== current.collection) {
        await this.checkTarget(acting, change.collection);
      }
      // Stored secrets are checked as placeholders: a sealed one is longer than its limit.
      const merged = parseNewConnector({
        ...this.definitionOf(withPlaceholderSecrets(current)),
        ...change,
      });
      // Secrets the change does not name are kept as stored, sealed or not.
      const connector: Connector = {
        ...current,
        ...merged,
        auth: change.auth === undefined ? current.auth : merged.auth,
      };
      if (change.url !== undefined && change.url !== current.url) {
        connector.urlSetBy = acting.user.id;
      }
      if (change.headers === undefined && current.headers !== undefined) {
        connector.headers = current.headers;
      }
      // A running connector keeps its lease; enabling one makes it due now.
      const running = await this.isRunning(document);
      const due = running || connector.enabled ? (document.due ?? nowMicros()) : undefined;
      let stored: DocumentRecord;
      try {
        stored = await this.write(connector, document.revision, due);
      } catch (error) {
        if (error instanceof StoreConflictError && attempt < 3) continue;
        throw error;
      }
      await this.guard.audit(acting, 'connector.update', connector.id, {
        fields: Object.keys(change),
      });
      return this.view(connectorOf(stored), stored);
    }
  }

  async remove(actor: Actor, reference: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'write');
    const document = await this.find(acting, reference);
    const connector = connectorOf(document);
    this.requireManager(acting, connector);
    await this.store.deleteDocument(CONNECTOR_DOCUMENT, connector.id);
    await this.store.deleteDocument(CONNECTOR_STATE_DOCUMENT, connector.id);
    await this.guard.audit(acting, 'connector.remove', connector.id, { name: connector.name });
  }

  /**
   * Makes the connector due now, so the next scheduler pass runs it. Throws 409 when a run
   * holds it.
   */
  async requestRun(actor: Actor, reference: string): Promise<ConnectorView> {
    const acting = await this.guard.resolve(actor, 'write');
    for (let attempt = 0; ; attempt++) {
      const document = await this.find(acting, reference);
      const connector = connectorOf(document);
      this.requireManager(acting, connector);
      if (await this.isRunning(document)) {
        throw new CairnError(
          'conflict',
          `connector "${connector.name}" is running now: wait for the run to end`,
        );
      }
      let stored: DocumentRecord;
      try {
        stored = await this.write(connector, document.revision, nowMicros());
      } catch (error) {
        if (error instanceof StoreConflictError && attempt < 3) continue;
        throw error;
      }
      await this.guard.audit(acting, 'connector.run', connector.id, {});
      return this.view(connectorOf(stored), stored);
    }
  }

  /** Whether the actor may change, run or remove the connector. */
  async mayManage(actor: Actor, connector: Pick<Connector, 'organisationId'>): Promise<boolean> {
    const acting = await this.guard.resolve(actor, 'write');
    return this.guard.administers(acting, connector.organisationId);
  }

  private definitionOf(connector: Connector): Record<string, unknown> {
    const {
      id: _id,
      organisationId: _org,
      createdBy: _by,
      createdAt: _at,
      urlSetBy: _setBy,
      ...definition
    } = connector;
    return definition;
  }

  /** A run holds the connector while its state shows one and its lease has not ended. */
  private async isRunning(document: DocumentRecord): Promise<boolean> {
    if (document.due === undefined || document.due <= nowMicros()) return false;
    const { state } = await loadState(this.store, document.id);
    return state.current !== undefined;
  }

  /**
   * Writes the definition with its secrets encrypted if it is still at `revision`, and
   * returns the stored document. A taken name becomes a 409; a revision conflict stays a
   * StoreConflictError for the caller's retry loop.
   */
  private async write(
    connector: Connector,
    revision: number,
    due: number | undefined,
  ): Promise<DocumentRecord> {
    try {
      return await this.store.putDocument(
        {
          kind: CONNECTOR_DOCUMENT,
          id: connector.id,
          owner: connector.organisationId,
          key: nameKey(connector.organisationId, connector.name),
          body: JSON.stringify(sealSecrets(connector, this.secrets)),
          ...(due !== undefined ? { due } : {}),
        },
        revision,
      );
    } catch (error) {
      if (error instanceof StoreConflictError && /document key/.test(error.message)) {
        throw new CairnError(
          'conflict',
          `a connector named "${connector.name}" already exists in this organisation: choose another name`,
        );
      }
      throw error;
    }
  }

  private async find(acting: Acting, reference: string): Promise<DocumentRecord> {
    const missing = notFound(
      `connector ${JSON.stringify(reference)} not found: \`cairn connector list\` or GET /api/v1/connectors lists them`,
    );
    const document = UUID.test(reference)
      ? await this.store.getDocument(CONNECTOR_DOCUMENT, reference.toLowerCase())
      : await this.store.getDocumentByKey(
          CONNECTOR_DOCUMENT,
          nameKey(acting.user.organisationId, reference),
        );
    if (document === undefined) throw missing;
    // Another organisation's connector does not exist for the caller.
    if (!this.guard.isPlatformAdmin(acting) && document.owner !== acting.user.organisationId) {
      throw missing;
    }
    return document;
  }

  private requireManager(acting: Acting, connector: Connector): void {
    if (!this.guard.administers(acting, connector.organisationId)) {
      throw forbidden(
        'only platform admins and org admins of its organisation may change a connector',
      );
    }
  }

  /**
   * Rejects a file path from anyone but a platform admin. The server reads the file with
   * its own rights and quotes unreadable lines in the health, so a file path would let an
   * org admin read any file of the server, such as /etc/passwd or /proc/self/environ.
   *
   * For the same reason a URL whose host is a loopback, private or other non-public IP
   * literal needs a platform admin or `connectors.allowPrivateTargets`. Runs check the
   * addresses a host name resolves to when they connect (see http.ts).
   */
  private checkLocation(acting: Acting, url: string): void {
    const platformAdmin = this.guard.isPlatformAdmin(acting);
    if (!/^https?:\/\//i.test(url)) {
      if (platformAdmin) return;
      throw forbidden(
        `only platform admins may give a file path as a connector url (got ${JSON.stringify(url)}): ` +
          'serve the file over http:// or https:// instead',
      );
    }
    if (platformAdmin || this.settings.allowPrivateTargets) return;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(`connector url ${JSON.stringify(url)} is not a valid URL`);
    }
    const problem = targetProblem(parsed, false);
    if (problem !== undefined) {
      throw forbidden(`connector url ${JSON.stringify(describeUrl(url))}: ${problem}`);
    }
  }

  /** The acting user must be able to write the target collection. */
  private async checkTarget(acting: Acting, collectionId: string): Promise<void> {
    const collection = await this.store.getCollectionById(collectionId);
    const caller = this.guard.caller(acting);
    const rights = collection
      ? collectionRights(caller, await loadCollectionContext(this.store, caller, collection))
      : undefined;
    if (!rights || !(rights.canRead || rights.canWrite)) {
      throw notFound(`collection ${collectionId} not found`);
    }
    if (!rights.canWrite) {
      throw forbidden(
        `you may not write to collection ${collectionId}, so a connector may not either`,
      );
    }
  }

  private async view(connector: Connector, document?: DocumentRecord): Promise<ConnectorView> {
    const stored = document ?? (await this.store.getDocument(CONNECTOR_DOCUMENT, connector.id));
    const { state } = await loadState(this.store, connector.id);
    return {
      connector: publicConnector(connector),
      state,
      running: stored !== undefined && (await this.isRunning(stored)),
      ...(stored?.due !== undefined && connector.enabled ? { nextRunAt: stored.due } : {}),
    };
  }
}
