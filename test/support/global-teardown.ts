export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __nmgRedisStop?: () => Promise<void> }).__nmgRedisStop?.();
}
