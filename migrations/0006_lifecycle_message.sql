-- Why a server is deprecated (or retired), shown on its catalog card and in the registry API.
ALTER TABLE servers ADD COLUMN lifecycle_message TEXT NOT NULL DEFAULT '';
