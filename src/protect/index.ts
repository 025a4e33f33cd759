export { protectSchema, type ProtectConfig, type ProtectConfigInput, type VaultConfig } from './config.js';
export { mapChatText, type TextMapper } from './rewrite.js';
export { conversationKey, createFindingFilter, protectRequest, pseudonymizeChat, type ProtectedRequest } from './pseudonymize.js';
export {
  StreamRestorer, newRestoreStats, restoreJsonText, restoreResponse, restoreStream, restoreTable, restoreText,
  type RestoreStats, type RestoreTable,
} from './restore.js';
export { OutputScan, OutputScanner, OutputStreamScanner, UNSCANNED, scanStream, type OutputAction, type OutputFinding } from './output-scan.js';
export { chooseFormat, type PlaceholderFormat } from './placeholders.js';
export { createVault } from './vault/create-vault.js';
export { MemoryVault, type MemoryVaultOptions } from './vault/memory-vault.js';
export { SqliteVault, type SqliteVaultOptions } from './vault/sqlite-vault.js';
export { RedisVault, type RedisVaultOptions } from './vault/redis-vault.js';
export { VaultCipher, type VaultKey } from './vault/cipher.js';
export { VaultConflictError, type Vault, type VaultScope, type VaultSession } from './vault/types.js';
