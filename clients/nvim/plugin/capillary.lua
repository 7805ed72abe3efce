-- Loaded by Neovim from the runtimepath: defines :CapillaryExplain, :CapillaryStage, :CapillaryModels,
-- :CapillaryStatus.
if vim.g.loaded_capillary then
  return
end
vim.g.loaded_capillary = true
require('capillary').setup()
