/**
 * Lua prelude that sets `now` to Redis' clock in ms (TIME). Scripts that judge expiry or due times by it
 * agree across workers whose own clocks disagree. (Redis 5+ replicates script effects, which makes TIME
 * safe before writes; replicate_commands is a no-op there.)
 */
export const REDIS_NOW_LUA = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
