import type { ResolveSecret } from '../../record/config.js';
import type { BasesStoreConfig } from './config.js';
import { PostgresBaseStore } from './postgres/postgres-store.js';
import { SqliteBaseStore } from './sqlite/sqlite-store.js';
import type { BaseStore } from './store.js';

/** Opens and migrates the configured Bases store; `resolveSecret` resolves a Postgres urlRef. */
export async function openBaseStore(config: BasesStoreConfig, resolveSecret?: ResolveSecret): Promise<BaseStore> {
  let store: BaseStore;
  if (config.kind === 'sqlite') {
    store = new SqliteBaseStore(config.path);
  } else {
    let url = config.url;
    if (url === undefined) {
      if (config.urlRef === undefined || resolveSecret === undefined) throw new Error('bases.store: urlRef needs a secret resolver');
      url = resolveSecret(config.urlRef);
    }
    store = new PostgresBaseStore({ url, schema: config.schema, poolSize: config.poolSize });
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
