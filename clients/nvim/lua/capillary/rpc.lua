-- JSON-RPC 2.0 connection to capillaryd over its Unix socket (vim.loop pipe, one JSON text per line).
-- Works on Neovim 0.7+. libuv callbacks only hand data to vim.schedule: decoding and every user callback
-- run on the main loop, where buffers may be changed.

local uv = vim.loop

local M = {}

--- The daemon's socket: g:capillary_socket, $CAPILLARY_SOCKET, $XDG_RUNTIME_DIR/capillary.sock, else
--- /tmp/capillary-$UID/capillary.sock (the daemon's own default).
function M.default_socket_path()
  if vim.g.capillary_socket and vim.g.capillary_socket ~= '' then
    return vim.g.capillary_socket
  end
  local explicit = uv.os_getenv('CAPILLARY_SOCKET')
  if explicit and explicit ~= '' then
    return explicit
  end
  local runtime = uv.os_getenv('XDG_RUNTIME_DIR')
  if runtime and runtime ~= '' then
    return runtime .. '/capillary.sock'
  end
  return '/tmp/capillary-' .. uv.getuid() .. '/capillary.sock'
end

--- "Method not found (-32601): no method named 'explain' ..." from an error table {code, message, data}.
function M.format_error(err)
  if type(err) ~= 'table' then
    return tostring(err)
  end
  local text = (err.message or 'error')
  if err.code then
    text = text .. ' (' .. err.code .. ')'
  end
  if err.data ~= nil and err.data ~= vim.NIL then
    local data = err.data
    if type(data) ~= 'string' then
      data = vim.json.encode(data)
    end
    text = text .. ': ' .. data
  end
  return text
end

local Conn = {}
Conn.__index = Conn

--- Connects to `path`, runs initialize/initialized, then calls `on_ready(err, conn)` on the main loop.
--- err is {code=nil, message=...} when nothing listens there.
function M.connect(path, on_ready)
  local pipe = uv.new_pipe(false)
  local conn = setmetatable({
    path = path, pipe = pipe, next_id = 1, pending = {}, tokens = {}, buffer = '', closed = false,
  }, Conn)
  pipe:connect(path, function(cerr)
    vim.schedule(function()
      if cerr then
        pipe:close()
        conn.closed = true
        on_ready({ message = 'no capillaryd is listening on ' .. path .. ' (' .. cerr .. '); start one with `capillaryd`'
          .. ' or set g:capillary_socket' }, nil)
        return
      end
      pipe:read_start(function(rerr, data)
        vim.schedule(function()
          conn:_on_read(rerr, data)
        end)
      end)
      conn:request('initialize', { clientInfo = { name = 'capillary.nvim', version = '0.1.0' },
        capabilities = vim.empty_dict() }, function(ierr, result)
        if ierr then
          on_ready(ierr, nil)
          return
        end
        conn.initialize_result = result
        conn:notify('initialized', vim.empty_dict())
        on_ready(nil, conn)
      end)
    end)
  end)
end

function Conn:_on_read(err, data)
  if err or not data then
    self:_close(err and ('reading from capillaryd failed: ' .. err) or 'capillaryd closed the connection')
    return
  end
  self.buffer = self.buffer .. data
  while true do
    local nl = self.buffer:find('\n', 1, true)
    if not nl then
      break
    end
    local line = self.buffer:sub(1, nl - 1)
    self.buffer = self.buffer:sub(nl + 1)
    if line:find('%S') then
      local ok, message = pcall(vim.json.decode, line)
      if ok then
        self:_dispatch(message)
      end
    end
  end
end

function Conn:_dispatch(message)
  if type(message) ~= 'table' then
    return
  end
  if vim.tbl_islist(message) then
    for _, m in ipairs(message) do
      self:_dispatch(m)
    end
    return
  end
  if message.method == '$/progress' then
    local params = message.params or {}
    local handler = self.tokens[params.token]
    if handler then
      handler(params.value)
    end
    return
  end
  if message.method ~= nil then
    return
  end
  local entry = self.pending[message.id]
  if not entry then
    return
  end
  self.pending[message.id] = nil
  if entry.token then
    self.tokens[entry.token] = nil
  end
  if message.error ~= nil and message.error ~= vim.NIL then
    entry.callback(message.error, nil)
  else
    entry.callback(nil, message.result)
  end
end

function Conn:_close(reason)
  if self.closed then
    return
  end
  self.closed = true
  if not self.pipe:is_closing() then
    self.pipe:close()
  end
  local pending = self.pending
  self.pending, self.tokens = {}, {}
  for _, entry in pairs(pending) do
    entry.callback({ message = reason }, nil)
  end
end

function Conn:_write(message)
  if self.closed then
    return false
  end
  self.pipe:write(vim.json.encode(message) .. '\n')
  return true
end

--- Sends a notification.
function Conn:notify(method, params)
  self:_write({ jsonrpc = '2.0', method = method, params = params })
end

--- Sends a request; `callback(err, result)` runs once on the main loop (err: {code, message, data}).
--- opts.on_partial(value): partial results (a partialResultToken is added to params).
--- opts.on_progress(value): work-done progress (a workDoneToken is added), also after the reply for jobs.
--- Returns the request id (for cancel) or nil when the connection is closed (callback already called).
function Conn:request(method, params, callback, opts)
  opts = opts or {}
  local id = self.next_id
  self.next_id = id + 1
  params = params or vim.empty_dict()
  local token
  if opts.on_partial then
    token = 'nvim-partial-' .. id
    params.partialResultToken = token
    self.tokens[token] = opts.on_partial
  elseif opts.on_progress then
    params.workDoneToken = 'nvim-work-' .. id
    self.tokens[params.workDoneToken] = opts.on_progress
  end
  if self.closed then
    callback({ message = 'the connection to capillaryd is closed' }, nil)
    return nil
  end
  self.pending[id] = { callback = callback, token = token }
  self:_write({ jsonrpc = '2.0', id = id, method = method, params = params })
  return id
end

--- $/cancelRequest for `id`: its callback then gets error -32800.
function Conn:cancel(id)
  if id and self.pending[id] then
    self:notify('$/cancelRequest', { id = id })
  end
end

--- Stops routing progress for a work-done token (after the job's end).
function Conn:forget_token(token)
  self.tokens[token] = nil
end

--- Closes the socket (pending callbacks get an error).
function Conn:close()
  self:_close('the connection was closed by the client')
end

--- Whether request `id` is still waiting for its reply.
function Conn:is_pending(id)
  return id ~= nil and self.pending[id] ~= nil
end

return M
