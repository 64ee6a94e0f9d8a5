package com.example.shop.user;

import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.amqp.support.converter.Jackson2JsonMessageConverter;
import org.springframework.amqp.support.converter.MessageConverter;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.stereotype.Component;

/** Publishes user events and listens for order events on the "shop" exchange. */
@Component
public class UserEvents {

    static final String EXCHANGE = "shop";
    static final String ORDERS_QUEUE = "user-service.orders";

    private static final Logger log = LoggerFactory.getLogger(UserEvents.class);

    private final RabbitTemplate rabbit;

    public UserEvents(RabbitTemplate rabbit) {
        this.rabbit = rabbit;
    }

    public void userCreated(User user) {
        rabbit.convertAndSend(EXCHANGE, "user.created",
                Map.of("id", user.getId(), "email", user.getEmail()));
    }

    @RabbitListener(queues = ORDERS_QUEUE)
    public void onOrderPlaced(Map<String, Object> order) {
        log.info("order {} placed by user {}", order.get("id"), order.get("userId"));
    }

    @Configuration
    static class Topology {

        @Bean
        TopicExchange shopExchange() {
            return new TopicExchange(EXCHANGE, true, false);
        }

        @Bean
        Queue ordersQueue() {
            return new Queue(ORDERS_QUEUE, true);
        }

        @Bean
        Binding ordersBinding(Queue ordersQueue, TopicExchange shopExchange) {
            return BindingBuilder.bind(ordersQueue).to(shopExchange).with("order.#");
        }

        @Bean
        MessageConverter jsonMessageConverter() {
            return new Jackson2JsonMessageConverter();
        }
    }
}
