ALTER TABLE `conversations` ADD `participant_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `conversations` SET `participant_count` = (SELECT count(*) FROM `participants` WHERE `participants`.`conversation_id` = `conversations`.`id`);
