export { loadOrCreateKeyring, DEV_ACCOUNTS, type Keyring } from './keyring.ts';
export { Auth, NONCE_TTL_MS, SESSION_TTL_MS, type AuthDeps } from './auth.ts';
