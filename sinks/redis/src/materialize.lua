-- sluice materialize: a versioned compare-and-set of one row (see materialize.rs).
--
-- KEYS[1]  data key (hash, or string holding a JSON object)
-- KEYS[2]  tombstone / version-guard key (string holding a version)
-- ARGV[1]  op: "u" upsert, "d" delete
-- ARGV[2]  version: 39-digit zero-padded decimal (u128). Lua numbers are
--          doubles, so versions are compared as equal-width digit strings.
-- ARGV[3]  format: "hash" or "json"
-- ARGV[4]  version field: hash field name, or JSON-encoded member name
-- ARGV[5]  live key TTL in ms ("0": none)
-- ARGV[6]  tombstone TTL in ms
-- ARGV[7]  n: number of (name, value) pairs that follow
-- ARGV[8 .. 7+2n]  pairs. hash: field, text. json: JSON-encoded name, JSON value text.
-- ARGV[8+2n ..]    hash only: fields to remove (NULL columns)
--
-- Returns 1 when the write took effect, 0 when the stored version (live row
-- or tombstone) is equal or newer. Errors with code SLUICEDATA when a stored
-- value is not one sluice wrote (the record is dead-lettered).

local key, guard = KEYS[1], KEYS[2]
local op, version, format, vfield = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, tomb_ttl, npairs = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

local function bad(what)
  return redis.error_reply('SLUICEDATA ' .. what .. ' at key ' .. key)
end

local function is_version(v)
  return type(v) == 'string' and #v == 39 and not string.find(v, '%D')
end

-- JSON objects are merged as text: members are split into raw name and
-- value slices and never decoded, so numbers beyond 2^53 and every escape
-- survive unchanged (cjson would round them through doubles).
-- The helpers are only defined (closures created) in JSON format.
local parse_object
if format == 'json' then
  local function skip_ws(s, i)
    return string.find(s, '[^ \t\r\n]', i)
  end

  local function string_end(s, i) -- s[i] is '"'; index after the closing quote
    local j = i + 1
    while true do
      local k = string.find(s, '["\\]', j)
      if not k then return nil end
      if string.byte(s, k) == 92 then j = k + 2 else return k + 1 end
    end
  end

  local function value_end(s, i)
    local c = string.byte(s, i)
    if c == 34 then return string_end(s, i) end
    if c == 123 or c == 91 then
      local depth, j = 0, i
      while true do
        local k = string.find(s, '["{}%[%]]', j)
        if not k then return nil end
        local b = string.byte(s, k)
        if b == 34 then
          j = string_end(s, k)
          if not j then return nil end
        else
          if b == 123 or b == 91 then depth = depth + 1 else depth = depth - 1 end
          j = k + 1
          if depth == 0 then return j end
        end
      end
    end
    local k = string.find(s, '[,}%]%s]', i)
    if not k or k == i then return nil end
    return k
  end

  parse_object = function(s)
    local names, values = {}, {}
    local i = skip_ws(s, 1)
    if not i or string.byte(s, i) ~= 123 then return nil end
    i = skip_ws(s, i + 1)
    if i and string.byte(s, i) == 125 then return names, values end
    while true do
      if not i or string.byte(s, i) ~= 34 then return nil end
      local e = string_end(s, i)
      if not e then return nil end
      local name = string.sub(s, i, e - 1)
      i = skip_ws(s, e)
      if not i or string.byte(s, i) ~= 58 then return nil end
      i = skip_ws(s, i + 1)
      if not i then return nil end
      local ve = value_end(s, i)
      if not ve then return nil end
      names[#names + 1] = name
      values[#values + 1] = string.sub(s, i, ve - 1)
      i = skip_ws(s, ve)
      if not i then return nil end
      local b = string.byte(s, i)
      if b == 125 then return names, values end
      if b ~= 44 then return nil end
      i = skip_ws(s, i + 1)
    end
  end
end

-- The newest stored version: live row's version field or the guard key.
local current = redis.call('GET', guard)
local had_guard = current and true or false
if current and not is_version(current) then return bad('tombstone is not a sluice version') end

local names, values, raw
if format == 'hash' then
  local live = redis.call('HGET', key, vfield)
  if live then
    if not is_version(live) then return bad('version field is not a sluice version') end
    if not current or live > current then current = live end
  end
else
  raw = redis.call('GET', key)
  if raw then
    names, values = parse_object(raw)
    if not names then return bad('stored value is not a JSON object') end
    for i = 1, #names do
      if names[i] == vfield then
        local v = string.sub(values[i], 2, -2)
        if not is_version(v) then return bad('version member is not a sluice version') end
        if not current or v > current then current = v end
      end
    end
  end
end

if current and current >= version then
  return 0
end

if op == 'd' then
  redis.call('DEL', key)
  redis.call('SET', guard, version, 'PX', tomb_ttl)
  return 1
end

if format == 'hash' then
  local args = { 'HSET', key }
  for i = 0, npairs - 1 do
    args[#args + 1] = ARGV[8 + 2 * i]
    args[#args + 1] = ARGV[9 + 2 * i]
  end
  args[#args + 1] = vfield
  args[#args + 1] = version
  redis.call(unpack(args))
  local first_removed = 8 + 2 * npairs
  if #ARGV >= first_removed then
    redis.call('HDEL', key, unpack(ARGV, first_removed, #ARGV))
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
else
  names, values = names or {}, values or {}
  local position = {}
  for i = 1, #names do position[names[i]] = i end
  local function put(name, value)
    local at = position[name]
    if at then
      values[at] = value
    else
      names[#names + 1] = name
      values[#values + 1] = value
      position[name] = #names
    end
  end
  for i = 0, npairs - 1 do
    put(ARGV[8 + 2 * i], ARGV[9 + 2 * i])
  end
  put(vfield, '"' .. version .. '"')
  local parts = {}
  for i = 1, #names do parts[i] = names[i] .. ':' .. values[i] end
  local doc = '{' .. table.concat(parts, ',') .. '}'
  if ttl > 0 then
    redis.call('SET', key, doc, 'PX', ttl)
  else
    redis.call('SET', key, doc)
  end
end

-- The live row now carries the newest version. Without a TTL it guards
-- itself and the tombstone is dropped; with one, the guard is kept for the
-- tombstone TTL so an expired row cannot be overwritten by an older replay.
if ttl > 0 then
  redis.call('SET', guard, version, 'PX', tomb_ttl)
elseif had_guard then
  redis.call('DEL', guard)
end
return 1
