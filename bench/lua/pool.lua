-- POST one line of a prepared file (args[1]) per request, formatted into the JSON
-- template args[2] (each line: one or two words, for the template's %s). Every line is
-- used once; past the end the last line repeats, and its failures show as non-2xx.
local lines, next_line = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    lines[#lines + 1] = line
  end
  template = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  next_line = math.min(next_line + 1, #lines)
  local first, second = lines[next_line]:match("^(%S+)%s*(%S*)$")
  return wrk.format(nil, nil, nil, string.format(template, first, second))
end
