-- Removes members from the task listing's sets (`listing_lib.lua`) that a
-- listing found stale although their record still names them: the record
-- was rewritten while the listing was off (see `backend.rs`).
-- KEYS[1] a set of the members' slot (for the call's slot); ARGV[1] the
-- listing's prefix of that slot, then the members.
for i = 2, #ARGV do
  unlist(ARGV[1], ARGV[i])
end
return #ARGV - 1
