-- GET the send-code URL for a new number on every request: 0912 followed by seven
-- digits counted up from args[1].
local count = 0

function init(args)
  first = tonumber(args[1])
end

function request()
  count = count + 1
  return wrk.format("GET", string.format("/accounts/api/otp/0912%07d/", first + count))
end
