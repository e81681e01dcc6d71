"""The Lua scripts of RedisStore: each write is one script, so it is atomic and one round trip.

A save that finds its key gone (destroyed, expired) is dropped unless it
creates the session, which is what makes logout final even for a request
already in flight. Scripts are sent by their SHA-1 (EVALSHA) and loaded only
when the server does not know them yet.
"""

from __future__ import annotations

import hashlib

# Shared by every script: the index set a stored $user value points at, and
# "the set lives at least as long as this member" (milliseconds, so a set that
# TTL would round up can never expire a moment before its session).
LUA_HELPERS = """
local function index_of(prefix, raw)
  if not raw or raw == 'null' then return false end
  if string.sub(raw, 1, 1) == '"' then return prefix .. cjson.decode(raw) end
  return prefix .. raw
end
local function outlive(index, ttl)
  local wanted = tonumber(ttl) * 1000
  local current = redis.call('PTTL', index)
  if current == -1 or (current >= 0 and current < wanted) then
    redis.call('PEXPIRE', index, wanted)
  end
end
local function call_in_chunks(command, key, first, last)
  local chunk = 1000
  local i = first
  while i <= last do
    local stop = math.min(i + chunk - 1, last)
    redis.call(command, key, unpack(ARGV, i, stop))
    i = stop + 1
  end
end
"""


def lua(body: str) -> str:
    """A script: the shared helpers, then ``body``."""
    return LUA_HELPERS + body


# KEYS[1] session hash. ARGV: ttl, may_create, inline_index, index_prefix, member,
# n_changes, n_changes field/value pairs, then the deleted fields.
# Returns {1, old index, new index} when applied, {0} when dropped.
SAVE = lua("""
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 and ARGV[2] ~= '1' then return {0} end
local prefix, member = ARGV[4], ARGV[5]
local old = index_of(prefix, redis.call('HGET', key, '$user'))
local first_pair = 7
local last_pair = first_pair + 2 * tonumber(ARGV[6]) - 1
call_in_chunks('HSET', key, first_pair, last_pair)
call_in_chunks('HDEL', key, last_pair + 1, #ARGV)
local new = index_of(prefix, redis.call('HGET', key, '$user'))
if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
if ARGV[3] == '1' then
  if old and old ~= new then redis.call('SREM', old, member) end
  if new then
    redis.call('SADD', new, member)
    outlive(new, ARGV[1])
  end
end
return {1, old, new}
""")

# KEYS[1] session hash. ARGV: ttl, $seen as JSON, inline_index, index_prefix.
# Returns {1, index} when touched, {0} when the key is gone.
TOUCH = lua("""
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {0} end
redis.call('HSET', key, '$seen', ARGV[2])
redis.call('EXPIRE', key, ARGV[1])
local index = index_of(ARGV[4], redis.call('HGET', key, '$user'))
if index and ARGV[3] == '1' then outlive(index, ARGV[1]) end
return {1, index}
""")

# KEYS[1] session hash, KEYS[2] its moved marker (one server only). ARGV: inline_index,
# index_prefix, member, session prefix, marker prefix. Returns {deleted, index} of KEYS[1]. On one
# server it also follows the markers regenerate left: each session the first was
# moved to is deleted too, in this same step, and the markers go. In cluster mode
# (inline_index '0') the marker lives in another slot: the client follows it.
DESTROY = lua("""
local inline, index_prefix = ARGV[1] == '1', ARGV[2]
local session_prefix, marker_prefix = ARGV[4], ARGV[5]
local function delete_session(key, member)
  local index = index_of(index_prefix, redis.call('HGET', key, '$user'))
  local deleted = redis.call('DEL', key)
  if index and inline then redis.call('SREM', index, member) end
  return deleted, index
end
local deleted, index = delete_session(KEYS[1], ARGV[3])
if inline then
  local marker = KEYS[2]
  local moved_to = redis.call('GET', marker)
  while moved_to do
    redis.call('DEL', marker)
    delete_session(session_prefix .. moved_to, moved_to)
    marker = marker_prefix .. moved_to
    moved_to = redis.call('GET', marker)
  end
end
return {deleted, index}
""")

# KEYS[1] a moved marker (cluster mode). Returns the key it pointed to, or false; it goes.
TAKE = """
local moved_to = redis.call('GET', KEYS[1])
if moved_to then redis.call('DEL', KEYS[1]) end
return moved_to
"""

# KEYS[1] a user's index set. ARGV: ttl, member to add ('' to only extend).
INDEX = lua("""
if ARGV[2] ~= '' then redis.call('SADD', KEYS[1], ARGV[2]) end
outlive(KEYS[1], ARGV[1])
return 1
""")

# KEYS[1] old hash, KEYS[2] new hash, KEYS[3] the old hash's moved marker. ARGV: ttl,
# index_prefix, old member, new member, n_fields, field/value pairs. Returns 1 when
# moved (the marker, new member for ttl seconds, sends DESTROY of the old key on to
# the new one), 0 when the old hash was gone (destroyed or expired), 2 when it was
# gone because a concurrent regenerate moved it (its marker is there); nothing is
# written in either case. Not for cluster mode.
REGENERATE = lua("""
local old_key, new_key = KEYS[1], KEYS[2]
if redis.call('EXISTS', old_key) == 0 then
  if redis.call('EXISTS', KEYS[3]) == 1 then return 2 end
  return 0
end
local prefix = ARGV[2]
local old_index = index_of(prefix, redis.call('HGET', old_key, '$user'))
redis.call('DEL', old_key)
if old_index then redis.call('SREM', old_index, ARGV[3]) end
call_in_chunks('HSET', new_key, 6, 5 + 2 * tonumber(ARGV[5]))
redis.call('EXPIRE', new_key, ARGV[1])
local new_index = index_of(prefix, redis.call('HGET', new_key, '$user'))
if new_index then
  redis.call('SADD', new_index, ARGV[4])
  outlive(new_index, ARGV[1])
end
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[1])
return 1
""")

# KEYS[1] a user's index set. ARGV: session prefix, member to keep ('' for none).
# Deletes every other member's session and takes it out of the set, in one step,
# so a regenerate cannot move a session out from under it. Not for cluster mode.
DESTROY_USER = lua("""
local index, prefix, keep = KEYS[1], ARGV[1], ARGV[2]
local deleted = 0
for _, member in ipairs(redis.call('SMEMBERS', index)) do
  if member ~= keep then
    deleted = deleted + redis.call('DEL', prefix .. member)
    redis.call('SREM', index, member)
  end
end
return deleted
""")


SCRIPT_SHA = {
    name: hashlib.sha1(source.encode()).hexdigest()  # Redis names a script by its SHA-1
    for name, source in {
        "save": SAVE,
        "touch": TOUCH,
        "destroy": DESTROY,
        "take": TAKE,
        "index": INDEX,
        "regenerate": REGENERATE,
        "destroy_user": DESTROY_USER,
    }.items()
}
