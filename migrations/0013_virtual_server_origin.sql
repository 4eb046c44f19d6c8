-- The cluster kind that declares a virtual server (`VirtualMCPServer`): such a virtual server
-- follows its object, and Apiary's own API and proposals do not change it. NULL for virtual
-- servers defined through Apiary.
ALTER TABLE virtual_servers ADD COLUMN origin TEXT;
