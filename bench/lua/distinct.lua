-- POST a GraphQL document (args[1], already escaped for a JSON string) that differs on
-- every request by a trailing comment naming the wrk thread and the request, so no
-- process has seen it before.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local count = 0

function init(args)
  document = args[1]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  count = count + 1
  return wrk.format(nil, nil, nil, string.format('{"query": "%s #%d.%d"}', document, id, count))
end
