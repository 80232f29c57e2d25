-- Argo CD health check for task-api.io/TaskRun (docs/gitops.md). Argo CD runs it with the live object as `obj`.
-- Healthy once the run succeeded, Degraded once it failed, Suspended when it was cancelled, Progressing before:
-- the same reading as kstatus (Flux), from the same fields (status.observedGeneration and the Succeeded condition).
local hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Succeeded" then
      if condition.status == "True" then
        hs.status = "Healthy"
      elseif condition.status == "False" then
        if condition.reason == "Cancelled" then
          hs.status = "Suspended"
        else
          hs.status = "Degraded"
        end
      end
      hs.message = condition.reason or ""
      if condition.message ~= nil and condition.message ~= "" then
        hs.message = hs.message .. ": " .. condition.message
      end
      return hs
    end
  end
end
return hs
