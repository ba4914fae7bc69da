CREATE TABLE `mirror_meter` (
	`id` integer PRIMARY KEY NOT NULL,
	`batches` integer DEFAULT 0 NOT NULL,
	`messages` integer DEFAULT 0 NOT NULL,
	`statements` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE `conversations` ADD `mirror_stamp` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
INSERT INTO `mirror_meter` (`id`) VALUES (1);
