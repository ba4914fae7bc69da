ALTER TABLE `users` ADD `presence_stamp` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `inbox_open` integer DEFAULT false NOT NULL;