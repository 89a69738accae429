-- wrk script: every request carries the next of the cookies listed in the file given after
-- `--` (one per line, "name=value"), so the load comes from many returning browsers in turn.
local cookies = {}
local next_index = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(cookies, line)
    end
  end
end

function request()
  next_index = (next_index % #cookies) + 1
  return wrk.format("GET", "/", { ["Cookie"] = cookies[next_index] })
end
