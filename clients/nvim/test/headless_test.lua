-- Headless test of capillary.nvim (run by scripts/test-clients.sh):
--   nvim --headless -u NONE -c 'luafile clients/nvim/test/headless_test.lua'
-- Needs CAPILLARY_SOCKET (a live capillaryd) and CAPILLARY_TEST_DIR. The explain streaming and
-- close-to-cancel checks also run against clients/testing/stream_peer.py, because capillaryd does not serve
-- `explain` yet. Exits 0 when every check passed, 1 otherwise (printing each result).

local here = debug.getinfo(1, 'S').source:sub(2):match('(.*/)')
local root = vim.fn.fnamemodify(here .. '..', ':p')
vim.opt.runtimepath:prepend(root)
vim.cmd('runtime plugin/capillary.lua')

local capillary = require('capillary')
local rpc = require('capillary.rpc')

local daemon = vim.env.CAPILLARY_SOCKET
local scratch = vim.env.CAPILLARY_TEST_DIR
local failures, passed = 0, 0
local messages = {}

-- Capture what the plugin shows the user.
vim.notify = function(msg, level)
  table.insert(messages, { msg = msg, level = level })
end

local function check(name, cond, detail)
  if cond then
    passed = passed + 1
    io.stdout:write('ok   ' .. name .. '\n')
  else
    failures = failures + 1
    io.stdout:write('FAIL ' .. name .. (detail and (': ' .. detail) or '') .. '\n')
  end
end

local function wait(pred, ms)
  return vim.wait(ms or 20000, pred, 10)
end

local function buf_text(buf)
  if not vim.api.nvim_buf_is_valid(buf) then
    return ''
  end
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

local function last_message()
  return messages[#messages] or { msg = '' }
end

-- A direct connection for checks the commands do not expose.
local function rpc_call(path, method, params)
  local conn, result, err, done
  rpc.connect(path, function(e, c) conn, err = c, e end)
  wait(function() return conn ~= nil or err ~= nil end, 5000)
  if not conn then return nil, err end
  conn:request(method, params, function(e, r) err, result, done = e, r, true end)
  wait(function() return done end, 20000)
  conn:close()
  return result, err
end

local ok, crash = pcall(function()
  assert(daemon and scratch, 'set CAPILLARY_SOCKET and CAPILLARY_TEST_DIR')

  -- The default path follows the daemon's rules (g:capillary_socket first).
  vim.g.capillary_socket = nil
  local expected = vim.env.CAPILLARY_SOCKET
  check('default socket path honours $CAPILLARY_SOCKET', rpc.default_socket_path() == expected)
  vim.g.capillary_socket = daemon

  -- Commands exist.
  for _, c in ipairs({ 'CapillaryExplain', 'CapillaryStage', 'CapillaryModels', 'CapillaryStatus' }) do
    check(':' .. c .. ' is defined', vim.fn.exists(':' .. c) == 2)
  end

  -- :CapillaryStatus
  vim.cmd('CapillaryStatus')
  local st = capillary.last_status
  wait(function() return st.done end)
  check(':CapillaryStatus answers', st.done and st.error == nil, st.error and rpc.format_error(st.error))
  check(':CapillaryStatus fills its buffer', st.buf and buf_text(st.buf):find('connections', 1, true) ~= nil)
  check(':CapillaryStatus shows the store', st.buf and buf_text(st.buf):find('"state"', 1, true) ~= nil)

  -- :CapillaryModels
  vim.cmd('CapillaryModels')
  local mo = capillary.last_models
  wait(function() return mo.done end)
  check(':CapillaryModels answers', mo.done and mo.error == nil)
  check(':CapillaryModels names the store', mo.buf and buf_text(mo.buf):find('# Capillary models in ' .. mo.result.store, 1, true) ~= nil)
  local has_model = false
  for _, m in ipairs(mo.result.models) do
    if m.name == 'graphnet' then
      has_model = true
      check(':CapillaryModels lists graphnet v' .. m.version, buf_text(mo.buf):find('graphnet%s+' .. m.version) ~= nil)
    end
  end

  -- :CapillaryStage on a simulated eye: the stage when the store has a model, else the daemon's error.
  vim.cmd('CapillaryStage synthetic:11:npdr:128')
  local sg = capillary.last_stage
  wait(function() return sg.done end)
  if has_model then
    check(':CapillaryStage gives a stage', sg.error == nil and (sg.result.stage == 'healthy' or sg.result.stage == 'npdr' or sg.result.stage == 'pdr'))
    check(':CapillaryStage message', last_message().msg:find('^Capillary stage of synthetic:11:npdr:128: %a+ %(healthy %d%.%d%d, npdr') ~= nil, last_message().msg)
  else
    check(':CapillaryStage shows model not found', last_message().msg:find('Model not found (-32020)', 1, true) ~= nil, last_message().msg)
  end

  -- :CapillaryStage on a missing file: the daemon's -32602 shown, no Lua error.
  vim.cmd('CapillaryStage ' .. scratch .. '/no-such-eye.png')
  local bad = capillary.last_stage
  wait(function() return bad.done end)
  check(':CapillaryStage missing file -> Invalid params', bad.error and bad.error.code == -32602 and
    last_message().msg:find('Invalid params (-32602): image', 1, true) ~= nil, last_message().msg)
  check('errors are shown at ERROR level', last_message().level == vim.log.levels.ERROR)

  -- :CapillaryExplain against the daemon: the streamed text if it serves explain and has a VLM (the Python
  -- tests, run first by scripts/test-clients.sh, train one), else the daemon's error, shown cleanly.
  local has_vlm = false
  for _, m in ipairs(mo.result.models) do
    if m.kind == 'vlm' then has_vlm = true end
  end
  vim.g.capillary_explain_params = { maxTokens = 60 }
  vim.cmd('CapillaryExplain synthetic:5:npdr:96')
  local ex = capillary.last_explain
  wait(function() return ex.done end, 60000)
  if ex.error == nil then
    check(':CapillaryExplain (daemon) streamed the final text into the buffer', type(ex.result.text) == 'string' and
      #ex.result.text > 0 and buf_text(ex.buf):find(ex.result.text, 1, true) ~= nil, buf_text(ex.buf))
    check(':CapillaryExplain (daemon) used a VLM', has_vlm and ex.result.model.kind == 'vlm')
  elseif ex.error.code == -32601 then
    check(':CapillaryExplain (daemon) shows method not found', buf_text(ex.buf):find('Method not found (-32601)', 1, true) ~= nil, buf_text(ex.buf))
  else
    check(':CapillaryExplain (daemon) without a VLM shows model not found', not has_vlm and
      buf_text(ex.buf):find('Model not found (-32020)', 1, true) ~= nil, buf_text(ex.buf))
  end
  vim.cmd('bwipeout! ' .. ex.buf)
  vim.g.capillary_explain_params = nil

  -- No daemon: a clear message, no Lua error.
  vim.g.capillary_socket = scratch .. '/absent.sock'
  vim.cmd('CapillaryStatus')
  local nd = capillary.last_status
  wait(function() return nd.done end, 5000)
  check('no daemon -> message naming the socket', nd.error ~= nil and
    last_message().msg:find('no capillaryd is listening on ' .. scratch .. '/absent.sock', 1, true) ~= nil, last_message().msg)

  -- Streaming into the buffer, against the scripted peer.
  local peer = scratch .. '/nvim-peer.sock'
  local ready = false
  local job = vim.fn.jobstart({ 'python3', root .. '../testing/stream_peer.py', peer }, {
    on_stdout = function(_, data) if table.concat(data):find('ready') then ready = true end end,
  })
  wait(function() return ready end, 10000)
  check('stream peer started', ready)
  vim.g.capillary_socket = peer
  -- A method the peer does not serve: the daemon-side error is shown, not raised.
  vim.cmd('CapillaryModels')
  local unserved = capillary.last_models
  wait(function() return unserved.done end, 10000)
  check('a method the server lacks -> Method not found shown', unserved.error and unserved.error.code == -32601 and
    last_message().msg:find('Capillary models: Method not found (-32601)', 1, true) ~= nil, last_message().msg)
  vim.g.capillary_explain_params = { deltas = 30, delayMS = 20 }
  vim.cmd('CapillaryExplain /abs/eye.png')
  local s1 = capillary.last_explain
  check('explain buffer is named after the image', vim.api.nvim_buf_get_name(s1.buf):find('capillary://explain//abs/eye.png', 1, true) ~= nil)
  wait(function() return buf_text(s1.buf):find('w3 ', 1, true) ~= nil end, 10000)
  check('tokens appear while the request is still running', buf_text(s1.buf):find('w3 ', 1, true) ~= nil and not s1.done)
  wait(function() return s1.done end)
  local expected_text = ''
  for i = 0, 29 do expected_text = expected_text .. 'w' .. i .. ' ' end
  check('the whole explanation is in the buffer', s1.error == nil and buf_text(s1.buf):find(expected_text, 1, true) ~= nil, buf_text(s1.buf))
  check('the final result arrived', s1.result and s1.result.deltas == 30)

  -- Wiping the buffer mid-stream cancels the request.
  vim.g.capillary_explain_params = { deltas = 1000, delayMS = 10 }
  vim.cmd('CapillaryExplain /abs/other.png')
  local s2 = capillary.last_explain
  wait(function() return buf_text(s2.buf):find('w1 ', 1, true) ~= nil end, 10000)
  local id = s2.id
  vim.cmd('bwipeout! ' .. s2.buf)
  wait(function() return s2.done end, 10000)
  check('closing the buffer cancels (reply -32800)', s2.cancelled and s2.error and s2.error.code == -32800)
  local stats = rpc_call(peer, 'peer/stats', vim.empty_dict())
  check('the peer saw the cancellation', stats and vim.tbl_contains(stats.cancelled, id))
  vim.fn.jobstop(job)
  capillary.disconnect()
end)

if not ok then
  failures = failures + 1
  io.stdout:write('FAIL the test crashed: ' .. tostring(crash) .. '\n')
end
io.stdout:write(string.format('nvim: %d passed, %d failed\n', passed, failures))
if failures > 0 or passed == 0 then
  vim.cmd('cquit 1')
else
  vim.cmd('qall!')
end
