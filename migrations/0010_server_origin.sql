-- The cluster kind that registered a server (`MCPRemoteProxy`, `MCPServerEntry`): such a
-- server follows its object, and Apiary's own API does not change it. NULL for servers
-- registered through Apiary.
ALTER TABLE servers ADD COLUMN origin TEXT;
