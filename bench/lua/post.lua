-- POST the same JSON body (args[1]) on every request, with args[2], when given, as the
-- Authorization header.
function init(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
  if args[2] then
    wrk.headers["Authorization"] = args[2]
  end
end
