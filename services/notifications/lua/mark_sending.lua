-- Marks a claimed delivery as handed to the provider (its outcome is unknown if we crash now).
-- KEYS: 1 delivery hash
if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'sending')
return 1
