-- Argo CD health check for shardline.dev resources (DataStream, DeliveryStream,
-- AnalyticsApp), read from the kstatus conditions the operator writes.
-- Lua 5.1 (Argo CD runs gopher-lua). Argo CD sets `obj` and reads the returned table.
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Shardline operator to report status"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Shardline operator to observe generation " .. tostring(generation)
  return hs
end
local ready, stalled, reconciling
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then ready = c
  elseif c.type == "Stalled" then stalled = c
  elseif c.type == "Reconciling" then reconciling = c end
end
local function text(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" and (ready.observedGeneration == nil or generation == nil or ready.observedGeneration >= generation) then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = text(reconciling)
elseif ready ~= nil then
  hs.message = text(ready)
else
  hs.message = "Waiting for the Ready condition"
end
return hs
