-- capillary.nvim: Capillary's DR staging and explanations inside Neovim (0.7+), talking to capillaryd.
-- :CapillaryExplain [image] streams the explanation into a scratch buffer (wiping it cancels the request);
-- :CapillaryStage [image], :CapillaryModels, :CapillaryStatus. Errors from the daemon (e.g. a method this
-- daemon does not serve) are shown with vim.notify, never raised.

local rpc = require('capillary.rpc')

local M = {}

local shared -- the open connection (reopened when closed or when the socket path changes)

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'Capillary' })
end

--- Calls `fn(conn)` with the shared connection, connecting (and initializing) first when needed; on a
--- connection failure shows the error and calls `on_fail(err)` if given.
function M.with_connection(fn, on_fail)
  local path = rpc.default_socket_path()
  if shared and not shared.closed and shared.path == path then
    fn(shared)
    return
  end
  if shared and not shared.closed then
    shared:close()
  end
  rpc.connect(path, function(err, conn)
    if err then
      notify('Capillary: ' .. rpc.format_error(err), vim.log.levels.ERROR)
      if on_fail then
        on_fail(err)
      end
      return
    end
    shared = conn
    fn(conn)
  end)
end

--- The `image` param for an argument: "" -> the current buffer's file; "synthetic:SEED:STAGE[:SIZE]" -> a
--- simulated eye; anything else -> a file path made absolute.
function M.image_param(arg)
  if arg == nil or arg == '' then
    arg = vim.fn.expand('%:p')
  end
  local seed, stage, size = arg:match('^synthetic:(%d+):(%a+):?(%d*)$')
  if seed then
    local synthetic = { seed = tonumber(seed), stage = stage }
    if size ~= '' then
      synthetic.sizePX = tonumber(size)
    end
    return { synthetic = synthetic }, arg
  end
  if arg == '' then
    return nil, 'no image: give a path (or synthetic:SEED:STAGE) or open an image file'
  end
  return { path = vim.fn.fnamemodify(arg, ':p') }, arg
end

--- A scratch buffer named `name` (reused if open) shown in a split; returns its number.
local function scratch_buffer(name)
  local existing = vim.fn.bufnr(name)
  if existing ~= -1 and vim.api.nvim_buf_is_valid(existing) then
    vim.api.nvim_buf_delete(existing, { force = true })
  end
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.api.nvim_buf_set_option(buf, 'bufhidden', 'wipe')
  vim.api.nvim_buf_set_option(buf, 'filetype', 'capillary')
  vim.cmd('botright split')
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

local function set_lines(buf, lines)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  end
end

--- Appends streamed text to the end of `buf` (text may contain newlines).
local function append_text(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local pieces = vim.split(text, '\n', { plain = true })
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
  pieces[1] = tail .. pieces[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
end

--- :CapillaryExplain [image]. Returns a handle {buf, id(), done()} (used by the tests).
function M.explain(arg)
  local image, label = M.image_param(arg)
  if not image then
    notify('Capillary: ' .. label, vim.log.levels.ERROR)
    return nil
  end
  local buf = scratch_buffer('capillary://explain/' .. label)
  set_lines(buf, { '# Capillary explanation of ' .. label, '' })
  local state = { buf = buf, done = false }
  M.last_explain = state
  local params = vim.tbl_extend('force', vim.g.capillary_explain_params or {}, { image = image })
  M.with_connection(function(conn)
    if not vim.api.nvim_buf_is_valid(buf) then
      state.done = true
      return
    end
    state.conn = conn
    state.id = conn:request('explain', params, function(err, result)
      state.done = true
      state.error = err
      state.result = result
      if err then
        if err.code == -32800 then
          return -- cancelled because the buffer was closed
        end
        local message = 'Capillary explain: ' .. rpc.format_error(err)
        append_text(buf, '\n\n' .. message)
        notify(message, vim.log.levels.ERROR)
      else
        append_text(buf, '\n')
      end
    end, {
      on_partial = function(value)
        local text = type(value) == 'table' and value.kind == 'delta' and value.text or
          (type(value) == 'string' and value or nil)
        if text then
          append_text(buf, text)
        end
      end,
    })
    -- Closing the buffer cancels a request still streaming into it.
    vim.api.nvim_create_autocmd({ 'BufWipeout', 'BufUnload' }, {
      buffer = buf,
      once = true,
      callback = function()
        if not state.done then
          state.cancelled = true
          conn:cancel(state.id)
        end
      end,
    })
  end, function(err)
    state.done = true
    state.error = err
    append_text(buf, '\n' .. rpc.format_error(err))
  end)
  return state
end

local function format_probabilities(p)
  local parts = {}
  for _, k in ipairs({ 'healthy', 'npdr', 'pdr' }) do
    if type(p) == 'table' and p[k] then
      table.insert(parts, string.format('%s %.2f', k, p[k]))
    end
  end
  return table.concat(parts, ', ')
end

--- Sends one request on the shared connection and records its outcome in a state table
--- ({done, error, result}), stored as M[key] so tests and scripts can poll it. On success
--- `on_result(r, conn, state)` shows the result; an error is shown with vim.notify under `title`.
local function one_shot(key, title, method, params)
  return function(on_result)
    local state = { done = false }
    M[key] = state
    M.with_connection(function(conn)
      conn:request(method, params, function(err, r)
        state.done, state.error, state.result = true, err, r
        if err then
          notify('Capillary ' .. title .. ': ' .. rpc.format_error(err), vim.log.levels.ERROR)
          return
        end
        on_result(r, conn, state)
      end)
    end, function(err)
      state.done, state.error = true, err
    end)
    return state
  end
end

--- :CapillaryStage [image]: the DR stage in a message. Returns a state table (result/error/done).
function M.stage(arg)
  local image, label = M.image_param(arg)
  if not image then
    notify('Capillary: ' .. label, vim.log.levels.ERROR)
    M.last_stage = { done = true }
    return M.last_stage
  end
  return one_shot('last_stage', 'stage', 'stage', { image = image })(function(r)
    local model = type(r.model) == 'table' and (r.model.name .. ' v' .. tostring(r.model.version)) or '?'
    notify(string.format('Capillary stage of %s: %s (%s) [%s]', label, tostring(r.stage),
      format_probabilities(r.probabilities), model))
  end)
end

--- :CapillaryModels: the model store in a scratch buffer.
function M.models()
  return one_shot('last_models', 'models', 'models/list', vim.empty_dict())(function(r, _, state)
    local lines = { '# Capillary models in ' .. tostring(r.store), '' }
    if #r.models == 0 then
      table.insert(lines, '(none: the store is empty; train one with the train method)')
    else
      table.insert(lines, string.format('%-16s %-8s %-10s %-7s %s', 'name', 'version', 'kind', 'loaded', 'metrics'))
      for _, m in ipairs(r.models) do
        local metrics = ''
        if type(m.metrics) == 'table' and m.metrics.testAccuracy then
          metrics = string.format('test accuracy %.3f', m.metrics.testAccuracy)
        end
        table.insert(lines, string.format('%-16s %-8s %-10s %-7s %s', tostring(m.name), tostring(m.version),
          tostring(m.kind), m.loaded and 'yes' or 'no', metrics))
      end
    end
    state.buf = scratch_buffer('capillary://models')
    set_lines(state.buf, lines)
  end)
end

--- :CapillaryStatus: daemon status in a scratch buffer.
function M.status()
  return one_shot('last_status', 'status', 'status', nil)(function(r, conn, state)
    local lines = { '# capillaryd at ' .. conn.path, '' }
    local keys = vim.tbl_keys(r)
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = r[k]
      if type(v) == 'table' then
        v = vim.json.encode(v)
      end
      table.insert(lines, string.format('%-20s %s', k, tostring(v)))
    end
    state.buf = scratch_buffer('capillary://status')
    set_lines(state.buf, lines)
  end)
end

--- Closes the shared connection (the next command reconnects).
function M.disconnect()
  if shared then
    shared:close()
    shared = nil
  end
end

--- Defines the user commands (called by plugin/capillary.lua).
function M.setup()
  local complete = 'file'
  vim.api.nvim_create_user_command('CapillaryExplain', function(o) M.explain(o.args) end,
    { nargs = '?', complete = complete, desc = 'Stream the explanation of an OCTA image into a scratch buffer' })
  vim.api.nvim_create_user_command('CapillaryStage', function(o) M.stage(o.args) end,
    { nargs = '?', complete = complete, desc = 'DR stage of an OCTA image' })
  vim.api.nvim_create_user_command('CapillaryModels', function() M.models() end, { desc = 'Capillary model store' })
  vim.api.nvim_create_user_command('CapillaryStatus', function() M.status() end, { desc = 'capillaryd status' })
end

return M
