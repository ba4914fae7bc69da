CREATE TABLE `user_name_words` (
	`word` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`word`, `user_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `user_name_words_user_idx` ON `user_name_words` (`user_id`);--> statement-breakpoint
-- Backfill: the words of every existing name. src/db/users.ts (nameWords) splits on anything that
-- is not a letter or digit; here the separators names actually use are turned into spaces first.
WITH RECURSIVE split(user_id, word, rest) AS (
	SELECT `id`, '', replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
		`name_lower`, '-', ' '), '.', ' '), ',', ' '), '_', ' '), '''', ' '), '(', ' '), ')', ' '), '"', ' '), '/', ' '), '&', ' '), char(9), ' ') || ' '
	FROM `users`
	UNION ALL
	SELECT user_id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO `user_name_words` (`word`, `user_id`) SELECT word, user_id FROM split WHERE word <> '';
